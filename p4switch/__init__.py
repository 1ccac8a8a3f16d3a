"""The embedded switch: a P4Runtime server that executes any p4c BMv2 JSON for v1model.

``engine/`` runs the program, ``p4runtime/`` serves P4Runtime, ``ports/``
moves packets, ``main.py`` is ``p4lb-switch`` (simple_switch_grpc's command
line). Nothing here knows about load balancing.
"""
