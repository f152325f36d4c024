"""Customer import: CSV/XLSX upload, column mapping, dry run, batched resumable background run, undo.

    reader.py    file parsing (encodings, delimiters, workbooks) with file-level checks
    xlsx.py      workbook archives checked before openpyxl parses them (part sizes, ZIP bombs, rows, cells)
    limits.py    the limits of an uploaded file (settings)
    mapping.py   mapping targets the user may write, header suggestions, value coercion
    rows.py      one batch of rows → plans (create / update / skip / error), the same validation as writes
    lookups.py   the planner's batched lookups: owners, accounts, customers to update, duplicates
    earlier.py   what earlier rows of the file did (in memory, and from ImportRow after a resume)
    writer.py    writes planned rows: bulk creates (audited per record), updates through customer_update
    services.py  the job's life: upload, configure, preview, start, cancel, resume, undo (state and rights)
    worker.py    one pass of a job (preview, run, undo) under a lease, batch by batch
    report.py    error report and template files
    selectors.py imports the user may see

A job moves uploaded → mapped → (previewing → ready) → queued → running → done | cancelled | failed, and
done → undoing → undone. See docs/adr/0005-imports.md.
"""
