"""The gateway's pure rules: consent, card-number detection, rate-limit maths, booking states,
quotes, calendars. No I/O and no framework imports."""
