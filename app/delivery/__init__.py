"""Durable delivery: every SMS is an outbox row before it is a send.

`intake` admits messages (in their cause's transaction), `engine` drives one message along
its route, `sender` claims due messages in the background, `ownership` decides which
process may talk to a GSM modem. Routes and providers know nothing of queues or retries.
"""
