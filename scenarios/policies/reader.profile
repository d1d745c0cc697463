# The pathname module's profile for /usr/bin/reader: read anything but the
# shadow file, write in /tmp.
profile reader /usr/bin/reader {
  /** r,
  /tmp/** rw,
  deny /etc/shadow rw,
}
