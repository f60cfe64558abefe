"""The Azure ML emulator: ARM routes, state, blob, monitor, schedules, and the wire check
against Azure's REST models.

Written apart from the adapter: nothing here imports the adapter's modules.
"""
