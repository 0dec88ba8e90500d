"""The engine: what a lookup means, schedules, batching, pacing, the watch loop, downloads."""
