"""What the kiosk tells and does outside itself: events over MQTT (with Home Assistant discovery)
and a door relay. Both are off until configured; nothing here is imported when they are off.
"""
