"""jobpoll: poll asynchronous render jobs at video-generation APIs."""

__version__ = "0.1.0"
