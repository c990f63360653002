"""Notifications: who is told (recipients), on which channels (in-app, e-mail, SMS), and when (quiet hours)."""
