#!/usr/bin/env python3
"""Reads the TRX files dotnet test wrote and prints every failed test (name, message, stack), then one line
'N passed, N failed, N skipped'. Exit 0 when at least one test ran and none failed."""
import glob
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
files = sorted(glob.glob(sys.argv[1] + "/**/*.trx", recursive=True))
for path in files:
    root = ET.parse(path).getroot()
    for result in root.iterfind(".//t:UnitTestResult", NS):
        outcome = result.get("outcome")
        if outcome == "Passed":
            passed += 1
        elif outcome in ("NotExecuted", "Inconclusive"):
            skipped += 1
        else:
            failed += 1
            message = result.findtext(".//t:ErrorInfo/t:Message", default="", namespaces=NS).strip()
            stack = result.findtext(".//t:ErrorInfo/t:StackTrace", default="", namespaces=NS).strip()
            print(f"FAILED {result.get('testName')} ({result.get('duration')})")
            for line in message.splitlines():
                print("    " + line)
            for line in stack.splitlines()[:25]:
                print("    " + line)
            print()
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(0 if files and passed + failed > 0 and failed == 0 else 1)
