"""The SageMaker emulator: moto, plus the operations, rules, runtime and scheduler it
leaves out.

Written apart from the adapter: nothing here imports the adapter's modules.
"""
