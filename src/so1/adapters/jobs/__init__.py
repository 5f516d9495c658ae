"""Job engines that run the background Jobs (see ports.JobRunner)."""
