"""Face-recognition kiosk."""
