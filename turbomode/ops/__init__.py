"""Running jobs for real: the run wrapper, OS scheduler export/install, alerts."""
