"""SkyPilot task files: the mapping, a corpus of real tasks, and a cross-check against SkyPilot's own parser."""
