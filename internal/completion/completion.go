// Package completion holds labctl's shell completion scripts.
package completion

import "fmt"

// The shell scripts ask labctl itself for the candidates of the words typed
// so far (urfave/cli's --generate-bash-completion), so they never go stale.
const (
	bashCompletion = `# labctl completion for bash: source this file, or put it in
# /etc/bash_completion.d/labctl or ~/.local/share/bash-completion/completions/labctl
_labctl_complete() {
	local cur opts
	COMPREPLY=()
	cur="${COMP_WORDS[COMP_CWORD]}"
	if [[ "$cur" == "-"* ]]; then
		opts=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" "$cur" --generate-bash-completion 2>/dev/null)
	else
		opts=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" --generate-bash-completion 2>/dev/null)
	fi
	mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
	return 0
}
complete -o bashdefault -o default -F _labctl_complete labctl
`
	zshCompletion = `#compdef labctl
# labctl completion for zsh: put this file in a folder of $fpath as _labctl,
# or source it from ~/.zshrc.
_labctl() {
	local -a opts
	local cur="${words[-1]}"
	if [[ "$cur" == "-"* ]]; then
		opts=("${(@f)$(${words[1]} ${words[@]:1:#words[@]-2} "$cur" --generate-bash-completion 2>/dev/null)}")
	else
		opts=("${(@f)$(${words[1]} ${words[@]:1:#words[@]-2} --generate-bash-completion 2>/dev/null)}")
	fi
	if [[ "${opts[1]}" != "" ]]; then
		_describe 'values' opts
	else
		_files
	fi
}
if [[ "$(basename -- ${(%):-%x})" != "_labctl" ]]; then
	compdef _labctl labctl
fi
`
	powershellCompletion = `# labctl completion for PowerShell: add this to your $PROFILE.
Register-ArgumentCompleter -Native -CommandName labctl, labctl.exe -ScriptBlock {
	param($wordToComplete, $commandAst, $cursorPosition)
	$words = $commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() }
	if ($wordToComplete -ne '') { $words = $words | Select-Object -SkipLast 1 }
	if ($wordToComplete.StartsWith('-')) { $words += $wordToComplete }
	& labctl @words --generate-bash-completion 2>$null | Where-Object { $_ -like "$wordToComplete*" } | ForEach-Object {
		[System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
	}
}
`
)

// Script returns the completion script for shell; fish is generated from
// the command tree by the caller's fish function.
func Script(shell string, fish func() (string, error)) (string, error) {
	switch shell {
	case "bash":
		return bashCompletion, nil
	case "zsh":
		return zshCompletion, nil
	case "powershell", "pwsh":
		return powershellCompletion, nil
	case "fish":
		s, err := fish()
		if err != nil {
			return "", fmt.Errorf("make the fish completion: %w", err)
		}
		return s, nil
	}
	return "", fmt.Errorf("no completion for shell %q: use bash, zsh, fish or powershell", shell)
}
