"""Traffic control: pumping defences for challenges and per-gateway limits.

`guard` decides a challenge (counters in the database, one statement per check),
`gateway_limits` admits a send to a gateway (GCRA in one row, a daily cap, concurrency),
`settings` holds the rules and their validation, `repo` the SQL.
"""
