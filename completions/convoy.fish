# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_convoy_global_optspecs
    string join \n json progress= q/quiet v/verbose allow-insecure allow-cross-region vault= h/help V/version
end

function __fish_convoy_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_convoy_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_convoy_using_subcommand
    set -l cmd (__fish_convoy_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c convoy -n "__fish_convoy_needs_command" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_needs_command" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_needs_command" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_needs_command" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_needs_command" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_needs_command" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_needs_command" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_needs_command" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_needs_command" -s V -l version -d 'Print version'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "copy" -d 'Copy one source to one destination'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "run" -d 'Run the copies of a spec file (all, or those named with --copy)'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "plan" -d 'Show what a spec (or SRC DST) would do, without doing it'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "check" -d 'Check every endpoint of a spec (or SRC DST): DNS, TCP, TLS, login and access rights. Writes nothing. Exit 3 when an endpoint fails a security check, 1 when one is unreachable or refuses access'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "extract" -d 'Extract a source into a new run on a stage (the first half of a staged copy); prints where the run is'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "load" -d 'Load a complete stage run into a destination (the second half of a staged copy), verifying every part; the run is marked loaded'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "stage" -d 'List the runs of a stage, or remove runs'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "secrets" -d 'Manage the encrypted secret vault and sealed values'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "completions" -d 'Print shell completions for bash, zsh, fish or powershell'
complete -c convoy -n "__fish_convoy_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l format -d 'Destination format: csv, parquet, json (JSON Lines) or ipc (Arrow)' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l source-format -d 'Source format, when the extension does not tell it' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l schema -d 'Column types of a CSV or JSON source, e.g. `id:int64,amount:decimal(18,4),at:timestamptz`. Without it types are inferred from a sample' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l infer-rows -d 'Rows sampled to infer a CSV or JSON schema' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l delimiter -d 'CSV field delimiter (one character, or `tab`); detected from a sample among `,` `;` tab `|` when not given (tab for `.tsv`)' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l quote -d 'CSV quote character' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l escape -d 'CSV escape character (default: quotes are doubled)' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l null -d 'Text that stands for NULL in CSV (default: empty field)' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l max-rows-per-file -d 'Split the output into files of at most N rows in the destination directory, with a manifest written last' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l row-group-size -d 'Parquet row-group size in rows' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l compression -d 'Compression. Parquet: the page codec, zstd (default), zstd(LEVEL), snappy, lz4, gzip, none. CSV and JSON Lines: the file\'s, gzip, gzip(LEVEL), zstd, zstd(LEVEL), bzip2, xz, none (a name ending in .gz, .zst, .bz2 or .xz also selects it)' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l mode -d 'How the destination is updated: replace (files, default), append, merge, incremental (databases)' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l key -d 'Key column of `--mode merge` (repeat for a composite key)' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l cursor -d 'Cursor column of `--mode incremental`: only rows with a greater value than the destination\'s maximum are copied' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l query -d 'A query to read instead of a table, for a database source (`postgres://user@host/db`, `mssql://user@host/db`)' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l name -d 'Name of the copy in reports' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l stage -d 'Copy through a stage: extract the source into a run under this location (s3://, az://, gs://, a local directory), load the destination from it, then remove the run' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l recipient -d 'Who may decrypt the staged parts: an `age1…` recipient, as printed by `convoy secrets identity` on that machine (repeatable; implies --encrypt-stage)' -r
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l no-header -d 'CSV files have no header line (columns are named column_1, column_2, …). Without --header or --no-header, whether line 1 is a header is detected from a sample'
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l header -d 'CSV files have a header line, even if its fields look like data'
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l quoted-empty-is-null -d 'Reading CSV: a quoted empty field (`""`) is NULL too, like an unquoted one. By default a `""` in a text column is an empty string, as PostgreSQL, DuckDB and Spark write it'
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l keep-stage -d 'Keep the staged run after a successful load'
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l encrypt-stage -d 'Encrypt every staged part on this machine before it leaves (age, to this machine\'s identity unless --recipient is given)'
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l dry-run -d 'Validate and open the source, write nothing'
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand copy" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand copy" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand copy" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand copy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c convoy -n "__fish_convoy_using_subcommand run" -l copy -d 'Run only the copies with these names (repeatable)' -r
complete -c convoy -n "__fish_convoy_using_subcommand run" -l shard -d 'Take share I of N (1 ≤ I ≤ N), e.g. --shard 2/3' -r
complete -c convoy -n "__fish_convoy_using_subcommand run" -l shards -d 'Take one share of N, the index from the scheduler\'s environment: CONVOY_SHARD (1-based), JOB_COMPLETION_INDEX (Kubernetes Indexed Job), AWS_BATCH_JOB_ARRAY_INDEX, SLURM_ARRAY_TASK_ID. N may also come from CONVOY_SHARDS' -r
complete -c convoy -n "__fish_convoy_using_subcommand run" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand run" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand run" -l dry-run -d 'Validate and open every source, write nothing'
complete -c convoy -n "__fish_convoy_using_subcommand run" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand run" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand run" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand run" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand run" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand run" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l copy -d 'With a spec: only these copies (repeatable)' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l format -d 'Destination format: csv, parquet, json (JSON Lines) or ipc (Arrow)' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l source-format -d 'Source format, when the extension does not tell it' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l schema -d 'Column types of a CSV or JSON source, e.g. `id:int64,amount:decimal(18,4),at:timestamptz`. Without it types are inferred from a sample' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l infer-rows -d 'Rows sampled to infer a CSV or JSON schema' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l delimiter -d 'CSV field delimiter (one character, or `tab`); detected from a sample among `,` `;` tab `|` when not given (tab for `.tsv`)' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l quote -d 'CSV quote character' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l escape -d 'CSV escape character (default: quotes are doubled)' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l null -d 'Text that stands for NULL in CSV (default: empty field)' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l max-rows-per-file -d 'Split the output into files of at most N rows in the destination directory, with a manifest written last' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l row-group-size -d 'Parquet row-group size in rows' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l compression -d 'Compression. Parquet: the page codec, zstd (default), zstd(LEVEL), snappy, lz4, gzip, none. CSV and JSON Lines: the file\'s, gzip, gzip(LEVEL), zstd, zstd(LEVEL), bzip2, xz, none (a name ending in .gz, .zst, .bz2 or .xz also selects it)' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l mode -d 'How the destination is updated: replace (files, default), append, merge, incremental (databases)' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l key -d 'Key column of `--mode merge` (repeat for a composite key)' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l cursor -d 'Cursor column of `--mode incremental`: only rows with a greater value than the destination\'s maximum are copied' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l query -d 'A query to read instead of a table, for a database source (`postgres://user@host/db`, `mssql://user@host/db`)' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l name -d 'Name of the copy in reports' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l stage -d 'Copy through a stage: extract the source into a run under this location (s3://, az://, gs://, a local directory), load the destination from it, then remove the run' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l recipient -d 'Who may decrypt the staged parts: an `age1…` recipient, as printed by `convoy secrets identity` on that machine (repeatable; implies --encrypt-stage)' -r
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l no-header -d 'CSV files have no header line (columns are named column_1, column_2, …). Without --header or --no-header, whether line 1 is a header is detected from a sample'
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l header -d 'CSV files have a header line, even if its fields look like data'
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l quoted-empty-is-null -d 'Reading CSV: a quoted empty field (`""`) is NULL too, like an unquoted one. By default a `""` in a text column is an empty string, as PostgreSQL, DuckDB and Spark write it'
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l keep-stage -d 'Keep the staged run after a successful load'
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l encrypt-stage -d 'Encrypt every staged part on this machine before it leaves (age, to this machine\'s identity unless --recipient is given)'
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand plan" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand plan" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand plan" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand plan" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand check" -l copy -d 'With a spec: only these copies (repeatable)' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l format -d 'Destination format: csv, parquet, json (JSON Lines) or ipc (Arrow)' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l source-format -d 'Source format, when the extension does not tell it' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l schema -d 'Column types of a CSV or JSON source, e.g. `id:int64,amount:decimal(18,4),at:timestamptz`. Without it types are inferred from a sample' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l infer-rows -d 'Rows sampled to infer a CSV or JSON schema' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l delimiter -d 'CSV field delimiter (one character, or `tab`); detected from a sample among `,` `;` tab `|` when not given (tab for `.tsv`)' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l quote -d 'CSV quote character' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l escape -d 'CSV escape character (default: quotes are doubled)' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l null -d 'Text that stands for NULL in CSV (default: empty field)' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l max-rows-per-file -d 'Split the output into files of at most N rows in the destination directory, with a manifest written last' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l row-group-size -d 'Parquet row-group size in rows' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l compression -d 'Compression. Parquet: the page codec, zstd (default), zstd(LEVEL), snappy, lz4, gzip, none. CSV and JSON Lines: the file\'s, gzip, gzip(LEVEL), zstd, zstd(LEVEL), bzip2, xz, none (a name ending in .gz, .zst, .bz2 or .xz also selects it)' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l mode -d 'How the destination is updated: replace (files, default), append, merge, incremental (databases)' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l key -d 'Key column of `--mode merge` (repeat for a composite key)' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l cursor -d 'Cursor column of `--mode incremental`: only rows with a greater value than the destination\'s maximum are copied' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l query -d 'A query to read instead of a table, for a database source (`postgres://user@host/db`, `mssql://user@host/db`)' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l name -d 'Name of the copy in reports' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l stage -d 'Copy through a stage: extract the source into a run under this location (s3://, az://, gs://, a local directory), load the destination from it, then remove the run' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l recipient -d 'Who may decrypt the staged parts: an `age1…` recipient, as printed by `convoy secrets identity` on that machine (repeatable; implies --encrypt-stage)' -r
complete -c convoy -n "__fish_convoy_using_subcommand check" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand check" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand check" -l no-header -d 'CSV files have no header line (columns are named column_1, column_2, …). Without --header or --no-header, whether line 1 is a header is detected from a sample'
complete -c convoy -n "__fish_convoy_using_subcommand check" -l header -d 'CSV files have a header line, even if its fields look like data'
complete -c convoy -n "__fish_convoy_using_subcommand check" -l quoted-empty-is-null -d 'Reading CSV: a quoted empty field (`""`) is NULL too, like an unquoted one. By default a `""` in a text column is an empty string, as PostgreSQL, DuckDB and Spark write it'
complete -c convoy -n "__fish_convoy_using_subcommand check" -l keep-stage -d 'Keep the staged run after a successful load'
complete -c convoy -n "__fish_convoy_using_subcommand check" -l encrypt-stage -d 'Encrypt every staged part on this machine before it leaves (age, to this machine\'s identity unless --recipient is given)'
complete -c convoy -n "__fish_convoy_using_subcommand check" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand check" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand check" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand check" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand check" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand check" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l run-id -d 'The run\'s id (default: one made from the time and a random part). Shards of one run share it (e.g. the scheduler\'s job name)' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l shard -d 'Take share I of N (1 ≤ I ≤ N), e.g. --shard 2/3' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l shards -d 'Take one share of N, the index from the scheduler\'s environment: CONVOY_SHARD (1-based), JOB_COMPLETION_INDEX (Kubernetes Indexed Job), AWS_BATCH_JOB_ARRAY_INDEX, SLURM_ARRAY_TASK_ID. N may also come from CONVOY_SHARDS' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l format -d 'Destination format: csv, parquet, json (JSON Lines) or ipc (Arrow)' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l source-format -d 'Source format, when the extension does not tell it' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l schema -d 'Column types of a CSV or JSON source, e.g. `id:int64,amount:decimal(18,4),at:timestamptz`. Without it types are inferred from a sample' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l infer-rows -d 'Rows sampled to infer a CSV or JSON schema' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l delimiter -d 'CSV field delimiter (one character, or `tab`); detected from a sample among `,` `;` tab `|` when not given (tab for `.tsv`)' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l quote -d 'CSV quote character' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l escape -d 'CSV escape character (default: quotes are doubled)' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l null -d 'Text that stands for NULL in CSV (default: empty field)' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l max-rows-per-file -d 'Split the output into files of at most N rows in the destination directory, with a manifest written last' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l row-group-size -d 'Parquet row-group size in rows' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l compression -d 'Compression. Parquet: the page codec, zstd (default), zstd(LEVEL), snappy, lz4, gzip, none. CSV and JSON Lines: the file\'s, gzip, gzip(LEVEL), zstd, zstd(LEVEL), bzip2, xz, none (a name ending in .gz, .zst, .bz2 or .xz also selects it)' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l mode -d 'How the destination is updated: replace (files, default), append, merge, incremental (databases)' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l key -d 'Key column of `--mode merge` (repeat for a composite key)' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l cursor -d 'Cursor column of `--mode incremental`: only rows with a greater value than the destination\'s maximum are copied' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l query -d 'A query to read instead of a table, for a database source (`postgres://user@host/db`, `mssql://user@host/db`)' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l name -d 'Name of the copy in reports' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l stage -d 'Copy through a stage: extract the source into a run under this location (s3://, az://, gs://, a local directory), load the destination from it, then remove the run' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l recipient -d 'Who may decrypt the staged parts: an `age1…` recipient, as printed by `convoy secrets identity` on that machine (repeatable; implies --encrypt-stage)' -r
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l coordinate -d 'Be the coordinator of a sharded extract: cut the source once for every shard (freeze a listing; fix key ranges and hold one snapshot that every shard joins), write the cut into the run, and wait until every shard has written its manifest. Needs --shards and --run-id'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l coordinated -d 'Wait (up to 10 minutes) for the coordinator\'s cut before extracting this shard'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l no-header -d 'CSV files have no header line (columns are named column_1, column_2, …). Without --header or --no-header, whether line 1 is a header is detected from a sample'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l header -d 'CSV files have a header line, even if its fields look like data'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l quoted-empty-is-null -d 'Reading CSV: a quoted empty field (`""`) is NULL too, like an unquoted one. By default a `""` in a text column is an empty string, as PostgreSQL, DuckDB and Spark write it'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l keep-stage -d 'Keep the staged run after a successful load'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l encrypt-stage -d 'Encrypt every staged part on this machine before it leaves (age, to this machine\'s identity unless --recipient is given)'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l dry-run -d 'Validate and open the source, write nothing'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l plan -d 'Print what the extract would do and the endpoints it needs; contact nothing'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand extract" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand load" -l format -d 'Destination format: csv, parquet, json (JSON Lines) or ipc (Arrow)' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l source-format -d 'Source format, when the extension does not tell it' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l schema -d 'Column types of a CSV or JSON source, e.g. `id:int64,amount:decimal(18,4),at:timestamptz`. Without it types are inferred from a sample' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l infer-rows -d 'Rows sampled to infer a CSV or JSON schema' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l delimiter -d 'CSV field delimiter (one character, or `tab`); detected from a sample among `,` `;` tab `|` when not given (tab for `.tsv`)' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l quote -d 'CSV quote character' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l escape -d 'CSV escape character (default: quotes are doubled)' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l null -d 'Text that stands for NULL in CSV (default: empty field)' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l max-rows-per-file -d 'Split the output into files of at most N rows in the destination directory, with a manifest written last' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l row-group-size -d 'Parquet row-group size in rows' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l compression -d 'Compression. Parquet: the page codec, zstd (default), zstd(LEVEL), snappy, lz4, gzip, none. CSV and JSON Lines: the file\'s, gzip, gzip(LEVEL), zstd, zstd(LEVEL), bzip2, xz, none (a name ending in .gz, .zst, .bz2 or .xz also selects it)' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l mode -d 'How the destination is updated: replace (files, default), append, merge, incremental (databases)' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l key -d 'Key column of `--mode merge` (repeat for a composite key)' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l cursor -d 'Cursor column of `--mode incremental`: only rows with a greater value than the destination\'s maximum are copied' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l query -d 'A query to read instead of a table, for a database source (`postgres://user@host/db`, `mssql://user@host/db`)' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l name -d 'Name of the copy in reports' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l stage -d 'Copy through a stage: extract the source into a run under this location (s3://, az://, gs://, a local directory), load the destination from it, then remove the run' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l recipient -d 'Who may decrypt the staged parts: an `age1…` recipient, as printed by `convoy secrets identity` on that machine (repeatable; implies --encrypt-stage)' -r
complete -c convoy -n "__fish_convoy_using_subcommand load" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand load" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand load" -l no-header -d 'CSV files have no header line (columns are named column_1, column_2, …). Without --header or --no-header, whether line 1 is a header is detected from a sample'
complete -c convoy -n "__fish_convoy_using_subcommand load" -l header -d 'CSV files have a header line, even if its fields look like data'
complete -c convoy -n "__fish_convoy_using_subcommand load" -l quoted-empty-is-null -d 'Reading CSV: a quoted empty field (`""`) is NULL too, like an unquoted one. By default a `""` in a text column is an empty string, as PostgreSQL, DuckDB and Spark write it'
complete -c convoy -n "__fish_convoy_using_subcommand load" -l keep-stage -d 'Keep the staged run after a successful load'
complete -c convoy -n "__fish_convoy_using_subcommand load" -l encrypt-stage -d 'Encrypt every staged part on this machine before it leaves (age, to this machine\'s identity unless --recipient is given)'
complete -c convoy -n "__fish_convoy_using_subcommand load" -l force -d 'Load a run that was loaded before (its rows are added again)'
complete -c convoy -n "__fish_convoy_using_subcommand load" -l dry-run -d 'Check the run and open the destination, write nothing'
complete -c convoy -n "__fish_convoy_using_subcommand load" -l plan -d 'Print what the load would do and the endpoints it needs; contact nothing'
complete -c convoy -n "__fish_convoy_using_subcommand load" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand load" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand load" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand load" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand load" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand load" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and not __fish_seen_subcommand_from list rm help" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand stage; and not __fish_seen_subcommand_from list rm help" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand stage; and not __fish_seen_subcommand_from list rm help" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and not __fish_seen_subcommand_from list rm help" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and not __fish_seen_subcommand_from list rm help" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and not __fish_seen_subcommand_from list rm help" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and not __fish_seen_subcommand_from list rm help" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and not __fish_seen_subcommand_from list rm help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and not __fish_seen_subcommand_from list rm help" -f -a "list" -d 'The runs of a stage: state (complete, incomplete, loaded), rows, bytes, age'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and not __fish_seen_subcommand_from list rm help" -f -a "rm" -d 'Remove one run (STAGE/RUN-ID/), or with --older-than every run of a stage older than that'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and not __fish_seen_subcommand_from list rm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from list" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from list" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from list" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from list" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from list" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from rm" -l older-than -d 'Remove every run whose newest object is older than this (e.g. 7d, 12h, 30m)' -r
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from rm" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from rm" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from rm" -l incomplete -d 'Only incomplete runs (abandoned extracts)'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from rm" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from rm" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from rm" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from help" -f -a "list" -d 'The runs of a stage: state (complete, incomplete, loaded), rows, bytes, age'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove one run (STAGE/RUN-ID/), or with --older-than every run of a stage older than that'
complete -c convoy -n "__fish_convoy_using_subcommand stage; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -f -a "set" -d 'Store a secret in the vault. The value is read from the terminal without echo, or from stdin when piped (one trailing newline removed); never from the command line'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -f -a "list" -d 'List the stored secrets: name, created, last rotated, age. Never values'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -f -a "rm" -d 'Remove a secret from the vault'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -f -a "rotate" -d 'Re-encrypt the whole vault under a new key: a new random machine key, or a new salt for the same passphrase. Secret values and this machine\'s identity are kept'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -f -a "identity" -d 'Print this machine\'s public key, for `convoy secrets seal --to` on another machine'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -f -a "seal" -d 'Seal a value so that only the machine whose public key is given can read it. The value is read like `set`; the output, `${sealed:…}`, can go in a spec file or a CI variable'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and not __fish_seen_subcommand_from set list rm rotate identity seal help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from set" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from set" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from set" -l passphrase -d 'Create the vault protected by a passphrase instead of a machine key file. The passphrase comes from CONVOY_VAULT_PASSPHRASE or is asked twice on the terminal. Only when the vault does not exist yet (setting CONVOY_VAULT_PASSPHRASE when the vault is created has the same effect); use `rotate --passphrase` to switch later'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from set" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from set" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from set" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from set" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from set" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from list" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from list" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from list" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from list" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from list" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rm" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rm" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rm" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rm" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rm" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rotate" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rotate" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rotate" -l passphrase -d 'Switch to (or change) a passphrase: read from CONVOY_VAULT_NEW_PASSPHRASE or asked twice on the terminal'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rotate" -l machine-key -d 'Switch to a random machine key file (machine.key next to the vault)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rotate" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rotate" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rotate" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rotate" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rotate" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from identity" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from identity" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from identity" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from identity" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from identity" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from identity" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from identity" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from identity" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from seal" -l to -d 'The receiving machine\'s public key, as printed there by `convoy secrets identity`' -r
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from seal" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from seal" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from seal" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from seal" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from seal" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from seal" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from seal" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from seal" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from help" -f -a "set" -d 'Store a secret in the vault. The value is read from the terminal without echo, or from stdin when piped (one trailing newline removed); never from the command line'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the stored secrets: name, created, last rotated, age. Never values'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove a secret from the vault'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Re-encrypt the whole vault under a new key: a new random machine key, or a new salt for the same passphrase. Secret values and this machine\'s identity are kept'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from help" -f -a "identity" -d 'Print this machine\'s public key, for `convoy secrets seal --to` on another machine'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from help" -f -a "seal" -d 'Seal a value so that only the machine whose public key is given can read it. The value is read like `set`; the output, `${sealed:…}`, can go in a spec file or a CI variable'
complete -c convoy -n "__fish_convoy_using_subcommand secrets; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand completions" -l progress -d 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal' -r -f -a "auto\t''
always\t''
never\t''"
complete -c convoy -n "__fish_convoy_using_subcommand completions" -l vault -d 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)' -r -F
complete -c convoy -n "__fish_convoy_using_subcommand completions" -l json -d 'Print one JSON summary document on stdout instead of the table'
complete -c convoy -n "__fish_convoy_using_subcommand completions" -s q -l quiet -d 'Print only errors'
complete -c convoy -n "__fish_convoy_using_subcommand completions" -s v -l verbose -d 'Print more about what is being done (repeat for more)'
complete -c convoy -n "__fish_convoy_using_subcommand completions" -l allow-insecure -d 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)'
complete -c convoy -n "__fish_convoy_using_subcommand completions" -l allow-cross-region -d 'Permit copies whose source, staging and sink regions differ'
complete -c convoy -n "__fish_convoy_using_subcommand completions" -s h -l help -d 'Print help'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from copy run plan check extract load stage secrets completions help" -f -a "copy" -d 'Copy one source to one destination'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from copy run plan check extract load stage secrets completions help" -f -a "run" -d 'Run the copies of a spec file (all, or those named with --copy)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from copy run plan check extract load stage secrets completions help" -f -a "plan" -d 'Show what a spec (or SRC DST) would do, without doing it'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from copy run plan check extract load stage secrets completions help" -f -a "check" -d 'Check every endpoint of a spec (or SRC DST): DNS, TCP, TLS, login and access rights. Writes nothing. Exit 3 when an endpoint fails a security check, 1 when one is unreachable or refuses access'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from copy run plan check extract load stage secrets completions help" -f -a "extract" -d 'Extract a source into a new run on a stage (the first half of a staged copy); prints where the run is'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from copy run plan check extract load stage secrets completions help" -f -a "load" -d 'Load a complete stage run into a destination (the second half of a staged copy), verifying every part; the run is marked loaded'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from copy run plan check extract load stage secrets completions help" -f -a "stage" -d 'List the runs of a stage, or remove runs'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from copy run plan check extract load stage secrets completions help" -f -a "secrets" -d 'Manage the encrypted secret vault and sealed values'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from copy run plan check extract load stage secrets completions help" -f -a "completions" -d 'Print shell completions for bash, zsh, fish or powershell'
complete -c convoy -n "__fish_convoy_using_subcommand help; and not __fish_seen_subcommand_from copy run plan check extract load stage secrets completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from stage" -f -a "list" -d 'The runs of a stage: state (complete, incomplete, loaded), rows, bytes, age'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from stage" -f -a "rm" -d 'Remove one run (STAGE/RUN-ID/), or with --older-than every run of a stage older than that'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from secrets" -f -a "set" -d 'Store a secret in the vault. The value is read from the terminal without echo, or from stdin when piped (one trailing newline removed); never from the command line'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from secrets" -f -a "list" -d 'List the stored secrets: name, created, last rotated, age. Never values'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from secrets" -f -a "rm" -d 'Remove a secret from the vault'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from secrets" -f -a "rotate" -d 'Re-encrypt the whole vault under a new key: a new random machine key, or a new salt for the same passphrase. Secret values and this machine\'s identity are kept'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from secrets" -f -a "identity" -d 'Print this machine\'s public key, for `convoy secrets seal --to` on another machine'
complete -c convoy -n "__fish_convoy_using_subcommand help; and __fish_seen_subcommand_from secrets" -f -a "seal" -d 'Seal a value so that only the machine whose public key is given can read it. The value is read like `set`; the output, `${sealed:…}`, can go in a spec file or a CI variable'
