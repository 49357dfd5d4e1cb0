"""The transport layer: FastAPI, websockets and the wire format. The only async code."""
