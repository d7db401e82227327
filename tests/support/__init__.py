"""What the test suites share: servers, ports, the sandbox fixture, and the expected declarations.

Every helper module of the suite lives here (test folders hold only tests, conftest.py and data); import
them as ``from support.<module> import ...`` (pyproject's ``pythonpath = ["tests"]``):

- expected: the declared operations and tools the tests compare the code against;
- servers: `free_port`, `clean_env`, `ServerProcess` (a real server process, ready when /healthz answers),
  `running_replicas` (several at once), `RoundRobin` (requests spread over replicas);
- sandbox: `make_settings`, `upstream_env` and `served_sandbox` (a server, in process or not, on a sandbox) and request bodies for the sandbox's HTTP API;
- mcp_client: `text_of` (a result's text) and `Elicitor` (a scripted user answering elicitations);
- raw_http: headers and JSON-RPC bodies for tests that speak streamable HTTP by hand;
- api_client: the Tickets API client against a sandbox, and its settled journal (contract tests);
- redis_server: a real redis-server on loopback; oauth_issuer: a stand-in OAuth issuer with a JWKS;
  jwks_outage: a JWKS endpoint on loopback that answers 500, hangs or serves keys on demand;
- chart: the Helm chart rendered offline (helm-python-sdk) and its pods' environment;
- podman: the podman CLI, containers and pods of the image tests (tests/image);
- otlp_receiver: an OTLP/HTTP receiver on loopback; canary: every output a client sees, for secret checks;
- untrusted: prompt-injection payloads and the checks that they came out sanitized and fenced;
- fault_matrix, schema_strategies: the reliability suites' fault matrix and Hypothesis strategies;
- fake_pool: a fake pooled client and clock for the `CallerPool` tests;
- fake_creates: fake creates for the dedup tests; tickets: realistic ticket, thread and catalog data;
- cli: the venv's `tickets-mcp` console script, run in a clean environment; node_tools: the pinned
  third-party Node tools (Inspector, conformance suite, mcpb); uv_runner: uv configured like pip;
- app_host: the host side of MCP Apps for the browser suite (its page: app_host.html).
"""
