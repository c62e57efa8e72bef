/** The controller's in-memory picture: {desired, status}, updated immutably with immer. */
import { produce, freeze } from 'immer';
import { emptyDesiredState, type DesiredState } from '../api/objects.js';
import type { Inventory, StatusMap } from '../core/controller.js';

export interface ControllerState {
  desired: DesiredState;
  status: StatusMap;
  inventory: Inventory;
  /** Diagnostics of the last rejected manifest set, if the current files are invalid. */
  rejected?: { at: string; diagnostics: string[]; revision?: string };
  lastAppliedRevision?: string;
}

type Listener = (next: ControllerState, prev: ControllerState) => void;

export class Store {
  #state: ControllerState;
  readonly #listeners = new Set<Listener>();

  constructor(initial?: Partial<ControllerState>) {
    this.#state = freeze({ desired: emptyDesiredState(), status: {}, inventory: {}, ...initial }, true);
  }

  get state(): ControllerState {
    return this.#state;
  }

  update(recipe: (draft: ControllerState) => void): ControllerState {
    const prev = this.#state;
    this.#state = produce(prev, recipe);
    if (this.#state !== prev) for (const l of this.#listeners) l(this.#state, prev);
    return this.#state;
  }

  subscribe(l: Listener): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }
}
