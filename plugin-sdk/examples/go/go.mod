module example_go

go 1.24
