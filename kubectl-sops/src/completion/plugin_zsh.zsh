
# `kubectl sops <TAB>`: kubectl's own completion (`source <(kubectl completion zsh)`) asks
# kubectl_complete-sops (installed beside kubectl-sops). Without it, this completes `kubectl sops …`.
if (( ! $+functions[_kubectl] )); then
    _kubectl_sops_plugin() {
        if (( CURRENT == 2 )); then compadd sops; return; fi
        [[ $words[2] == sops ]] || return 1
        local -a lines cands
        local line directive=0
        lines=("${(@f)$(kubectl_complete-sops "${(@)words[3,CURRENT-1]}" "${words[CURRENT]}" 2>/dev/null)}")
        for line in $lines; do
            if [[ $line == :* ]]; then directive=${line#:}; elif [[ -n $line ]]; then cands+=("${line%%$'\t'*}"); fi
        done
        if (( $#cands )); then compadd -a cands; elif (( directive == 0 )); then _files; fi
    }
    compdef _kubectl_sops_plugin kubectl
fi
