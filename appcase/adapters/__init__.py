"""Files in and out: reading ledger spreadsheets (CSV, XLSX) and rendering reports
(Markdown, DOCX, JSON).

Adapters turn bytes into plain data and plain data into bytes; they touch no database.
"""
