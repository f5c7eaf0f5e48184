"""CRM domain core: plain dataclasses, enums and pure functions (no I/O, no asyncio)."""
