"""The Vertex AI emulator: the API, storage, monitoring and the rules Vertex AI enforces.

Written apart from the adapter: nothing here imports the adapter's modules.
"""
