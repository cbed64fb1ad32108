"""The document runtime: one living document between its transactions (inputs,
the clock, timers, who is connected, the frames clients receive), on the
machine in vm/.

Its contracts are here (`contracts`: inputs, frames, the viewers interface,
a document as a host drives it; spec/runtime.md). The runtime's code itself
(vm/living.py, vm/document.py, vm/asks.py, vm/schedule.py and their helpers)
moves here from vm/ in the next step of issue 11; it imports the machine,
never the compiler, the views, the store or the server.
"""
