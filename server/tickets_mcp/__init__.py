"""tickets-mcp: an MCP server for the Selectel / Servercore support Tickets API v1.2.0."""

__version__ = "0.1.0"
