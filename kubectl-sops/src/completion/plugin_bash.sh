
# `kubectl sops <TAB>`: kubectl's own completion (`source <(kubectl completion bash)`) asks
# kubectl_complete-sops (installed beside kubectl-sops). Without it, this completes `kubectl sops …`.
if ! complete -p kubectl >/dev/null 2>&1; then
    _kubectl_sops_plugin() {
        local cur=${COMP_WORDS[COMP_CWORD]} line directive=0 out
        COMPREPLY=()
        if [[ $COMP_CWORD -lt 2 ]]; then
            COMPREPLY=($(compgen -W sops -- "$cur"))
            return
        fi
        [[ ${COMP_WORDS[1]} == sops ]] || return
        out=$(kubectl_complete-sops "${COMP_WORDS[@]:2:COMP_CWORD-2}" "$cur" 2>/dev/null) || return
        while IFS= read -r line; do
            case $line in
                :*) directive=${line#:} ;;
                ?*) COMPREPLY+=("${line%%$'\t'*}") ;;
            esac
        done <<<"$out"
        if [[ ${#COMPREPLY[@]} -eq 0 && $directive -eq 0 ]]; then
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
    }
    complete -F _kubectl_sops_plugin kubectl
fi
