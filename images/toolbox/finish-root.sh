#!/bin/sh
# Finishes the toolbox's Debian root at $1, the same way whichever tool made it: build.sh
# runs it as root after debootstrap, and mmdebstrap runs it as a customize hook (as root
# inside its user namespace, for an unprivileged build). What it does decides the image, so
# it is part of the toolbox's recipe hash.
set -eu
root=$1
uid=10001 # the non-root user of every socketlab image, named "learner" here
# Docker provides these per container; a copy of the build machine's would mislead.
: >"$root/etc/resolv.conf"
: >"$root/etc/hostname"
: >"$root/etc/machine-id"
# What a node never reads: package lists and archives, logs, documentation (the copyright
# files stay), and the bootstrap tools' leftovers.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
	"$root"/var/log/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/debootstrap
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
# The same apt and /var layout whichever tool ran: no apt locks or marks, apt's cache
# directories root's (mmdebstrap's are its download user's), /var/lock and /var/local as
# base-files makes them on a first install.
rm -f "$root"/var/cache/apt/archives/lock "$root"/var/cache/apt/archives/.lock "$root"/var/lib/apt/lists/lock \
	"$root"/var/lib/apt/extended_states
rm -rf "$root"/var/lib/apt/lists/partial
chown 0:0 "$root"/var/cache/apt/archives "$root"/var/cache/apt/archives/partial
chmod 755 "$root"/var/cache/apt/archives "$root"/var/cache/apt/archives/partial
[ -e "$root/var/lock" ] || [ -L "$root/var/lock" ] || ln -s /run/lock "$root/var/lock"
[ -d "$root/var/local" ] || { mkdir -p "$root/var/local" && chown 0:50 "$root/var/local" && chmod 2775 "$root/var/local"; }
chroot "$root" groupadd -g $uid learner
chroot "$root" useradd -m -u $uid -g $uid -s /bin/bash learner
# Where a scenario's files go (issue 12: files: ["./x.py:/lab/x.py"]).
mkdir -p "$root/lab"
