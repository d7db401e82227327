"""The MCP face of the server: tools, resources and prompts over `tickets_mcp.api` (docs/architecture.md)."""
