# The pathname module's profile for a passwd-like tool: it may rewrite
# /etc/shadow by writing /etc/nshadow and renaming it into place.
profile passwd /usr/bin/passwd {
  /etc/ r,
  /etc/shadow rw,
  /etc/nshadow rw,
}
