
# `kubectl sops <TAB>`: kubectl's own completion (`kubectl completion fish`) asks kubectl_complete-sops
# (installed beside kubectl-sops). Without it, this completes `kubectl sops …`.
if test (count (complete -c kubectl)) -eq 0
    function __kubectl_sops_plugin
        set -l words (commandline -opc)
        kubectl_complete-sops $words[3..-1] (commandline -ct) 2>/dev/null | string match -v -r '^:'
    end
    complete -c kubectl -n '__fish_use_subcommand' -f -a sops -d 'SOPS-encrypted manifests'
    complete -c kubectl -n '__fish_seen_subcommand_from sops' -f -a '(__kubectl_sops_plugin)'
end
