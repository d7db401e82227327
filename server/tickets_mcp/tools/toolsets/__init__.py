"""The toolsets: one module each, exporting its tools as the value `TOOLS`."""
