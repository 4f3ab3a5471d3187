"""The scripts a user would write instead of a wangge command (peers of ``bench.commands``)."""
