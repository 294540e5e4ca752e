print("curriculum")
