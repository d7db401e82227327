"""What the test suites share: servers, ports, the sandbox fixture, and the expected declarations."""
