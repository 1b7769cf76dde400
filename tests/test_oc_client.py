def test_x():
    import sys
    print(sys.path[:3])
    import integrations
    import oc_fake
