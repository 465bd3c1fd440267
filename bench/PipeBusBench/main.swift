print("pipebus-bench")
