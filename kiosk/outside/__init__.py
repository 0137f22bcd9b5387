"""What the kiosk tells and does outside itself: events over MQTT (with Home Assistant discovery),
a door relay, and several kiosks as one site through the same broker (fleet.py, with the signed
gallery in bundle.py). All are off until configured; nothing here is imported when they are off.
"""
