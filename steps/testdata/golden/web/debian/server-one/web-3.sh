#!/bin/sh
# Read-only: facts for labctl's check; changes nothing.
echo '@@ wordpress'
{ sed -n "s/^\$wp_version = '\(.*\)';/\1/p" '/var/www/wordpress/wp-includes/version.php'
} 2>/dev/null || true
