"""Pure decision code: data in, decision out, with the reason attached. No I/O here."""
