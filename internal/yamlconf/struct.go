package yamlconf

import (
	"encoding"
	"math"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	durationType  = reflect.TypeFor[time.Duration]()
	nodeType      = reflect.TypeFor[yaml.Node]()
	unmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// Decode fills into, a pointer, from n with the helpers of Decoder: a
// struct from a mapping of its fields' yaml tag names (other keys are
// problems; fields tagged "-" or untagged are skipped), a map with string
// keys from any mapping, a slice from a list, an encoding.TextUnmarshaler
// from a scalar through UnmarshalText (its error is the message), a
// time.Duration through Duration, and strings, booleans and whole numbers
// as String, Bool and Int read them. A yaml.Node field takes the node as is,
// for a section another package decodes. A pointer field is allocated when
// its value is present and not null, then decoded into, so a nil pointer
// tells an absent section from an empty one ({}). Absent and null values
// leave the target unchanged. Node(path) then returns each value's node.
func (d *Decoder) Decode(n *yaml.Node, path string, into any) {
	d.decode(n, path, reflect.ValueOf(into).Elem())
}

func (d *Decoder) decode(n *yaml.Node, path string, v reflect.Value) {
	if n == nil {
		return
	}
	d.nodes[path] = n
	if v.Type() == nodeType {
		v.Set(reflect.ValueOf(*n))
		return
	}
	if IsNull(n) {
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, path, v.Elem())
		return
	}
	if v.Addr().Type().Implements(unmarshalType) {
		s, ok := d.String(n, path)
		if !ok {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.Errorf(n, path, "%s", err.Error())
		}
		return
	}
	if v.Type() == durationType {
		if dur, ok := d.Duration(n, path); ok {
			v.SetInt(int64(dur))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		if s, ok := d.String(n, path); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		v.SetBool(d.Bool(n, path, v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := v.Type().Bits()
		if i, ok := d.Int(n, path, -1<<(bits-1), 1<<(bits-1)-1); ok {
			v.SetInt(i)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		hi := int64(math.MaxInt64)
		if bits := v.Type().Bits(); bits < 64 {
			hi = 1<<bits - 1
		}
		if i, ok := d.Int(n, path, 0, hi); ok {
			v.SetUint(uint64(i))
		}
	case reflect.Slice:
		items := d.List(n, path)
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, item := range items {
			d.decode(item, Index(path, i), s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		f, ok := d.Mapping(n, path)
		if !ok {
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(f.Keys()))
		for _, k := range f.Keys() {
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(f.Get(k), Join(path, k), e)
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.Struct:
		d.decodeStruct(n, path, v)
	default:
		panic("yamlconf: cannot decode into " + v.Type().String())
	}
}

func (d *Decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) {
	t := v.Type()
	var names []string
	var index []int
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		names, index = append(names, name), append(index, i)
	}
	f, ok := d.Mapping(n, path, names...)
	if !ok {
		return
	}
	for j, name := range names {
		d.decode(f.Get(name), Join(path, name), v.Field(index[j]))
	}
}
