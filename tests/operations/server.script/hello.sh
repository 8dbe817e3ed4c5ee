#!/bin/sh
echo "hello $1" > /tmp/oxinfra-script-out
