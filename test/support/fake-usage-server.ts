/** Test access to the usage-endpoint stand-in (the same server `make demo` runs). */
export {
  FAKE_USAGE_PATH,
  startFakeUsageServer,
  usageBody,
  type FakeFailure,
  type FakeUsageRequest,
  type FakeUsageServer,
  type FakeUsageServerOptions,
  type FakeWindows,
} from '../../src/demo/fake-usage-server.js';
