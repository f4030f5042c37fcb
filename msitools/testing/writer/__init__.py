"""Writers for test fixtures: compound files, MSI databases, summary information.

No Linux tool writes transforms or patches, so the project builds its own
fixtures with these modules.  Everything they produce is checked by
independent readers (olefile, 7-Zip, msiinfo/msidump) in the tests.
"""
