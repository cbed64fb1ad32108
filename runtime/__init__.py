"""The document runtime: one living document between its transactions (inputs,
the clock, timers, who is connected, the frames clients receive), on the
machine in vm/.

`living` (LivingDocument: everything between transactions), `engine`
(Engine: one transaction at a time, asks, awaits, rollback), `asks` (the
open asks' book), `services` (service calls: what a document wants made,
and their results as inputs), `schedule` (the pending transition and @cron) and
`contracts` (inputs, frames, the viewers interface, a document as a host
drives it; spec/runtime.md). It imports the machine, never the views, the
store or the server.
"""
