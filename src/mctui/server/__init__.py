"""The coordinator (calls, members, ringing, tokens) and its SFUs. Never imports the engine."""
