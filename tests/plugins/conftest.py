# cloudserve-toy is a separate distribution: its tests run only once it is installed, in the
# child pytest that tests/core/test_third_party_target.py starts.
collect_ignore_glob = ["cloudserve-toy/*"]
