package scenario_test

import (
	"errors"
	"fmt"

	"socketlab/labctl/scenario"
)

func ExampleParse() {
	_, err := scenario.Parse("lab.yaml", []byte(`name: demo
networks:
  front: {ipv6: "fd00:2::/64"}
  back: {}
nodes:
  alice:
    image: client
    networks:
      - back
      - {name: front, ipv6: "fd00:1::5"}
      - bak
  bob:
    imag: echo
`))
	var errs scenario.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Println(e)
		}
		fmt.Println(len(errs), "errors")
	}
	// Output:
	// lab.yaml:10:29: nodes.alice.networks[1].ipv6: fd00:1::5 is outside fd00:2::/64 (did you mean fd00:2::5?)
	// lab.yaml:11:9: nodes.alice.networks[2]: network "bak" is not defined (did you mean "back"?)
	// lab.yaml:12:3: nodes.bob: the node joins no network (add networks: [front])
	// lab.yaml:13:5: nodes.bob: unknown key "imag" (did you mean "image"?)
	// 4 errors
}

func ExampleSchema() {
	b, err := scenario.Schema()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s", b[:57])
	// Output:
	// {
	//   "$schema": "http://json-schema.org/draft-07/schema#",
}
