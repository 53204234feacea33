"""mctui.rtc"""
