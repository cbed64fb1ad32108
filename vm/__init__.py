"""The advm register machine: opcode table, assembler, module format, machine.

`Machine` lives in the compiled extension `advm.vm._machine`; the rest is plain
Python. Build the extension with `python setup.py build_ext --inplace`.
"""
