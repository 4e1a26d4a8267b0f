package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

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

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh, fish or powershell",
		ArgsUsage: "bash|zsh|fish|powershell",
		Description: "bash:       source <(labctl completion bash)\n" +
			"zsh:        labctl completion zsh > \"${fpath[1]}/_labctl\"\n" +
			"fish:       labctl completion fish > ~/.config/fish/completions/labctl.fish\n" +
			"powershell: labctl completion powershell | Out-String | Invoke-Expression",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: labctl completion bash|zsh|fish|powershell", exitUsage)
			}
			var script string
			switch c.Args().First() {
			case "bash":
				script = bashCompletion
			case "zsh":
				script = zshCompletion
			case "powershell", "pwsh":
				script = powershellCompletion
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("make the fish completion: %w", err)
				}
				script = s
			default:
				return cli.Exit(fmt.Sprintf("no completion for shell %q: use bash, zsh, fish or powershell", c.Args().First()), exitUsage)
			}
			_, err := fmt.Fprint(c.App.Writer, script)
			return err
		},
	}
}
